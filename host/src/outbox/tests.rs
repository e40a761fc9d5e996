use super::*;

fn actor() -> ActorKey {
    ActorKey::parse("twin", "d1").expect("key")
}

fn event(topic: &str) -> Effect {
    Effect::Publish(Publish {
        pubsub: "pubsub".into(),
        topic: topic.into(),
        data: Bytes::from_static(b"{\"v\":1}"),
        content_type: "application/json".into(),
        metadata: HashMap::from([("ttlInSeconds".to_string(), "60".to_string())]),
    })
}

#[test]
fn effect_ids_are_stable_per_actor_seed_and_position() {
    let a = effect_id(&actor(), "req-1", 0);
    assert_eq!(a, effect_id(&actor(), "req-1", 0));
    assert_ne!(a, effect_id(&actor(), "req-1", 1));
    assert_ne!(a, effect_id(&actor(), "req-2", 0));
    let other = ActorKey::parse("twin", "d2").expect("key");
    assert_ne!(a, effect_id(&other, "req-1", 0));
    assert_eq!(a.len(), 34, "{a}");
    assert!(a.ends_with("-0"));
}

#[test]
fn a_turn_numbers_its_effects_from_its_seed_and_a_rollback_keeps_ids_unique() {
    let mut effects = TurnEffects::default();
    effects.begin("req-1".into());
    let first = effects.push(&actor(), event("a"), 1 << 20).expect("push");
    assert_eq!(first, effect_id(&actor(), "req-1", 0));
    let savepoint = effects.savepoint();
    let nested = effects.push(&actor(), event("b"), 1 << 20).expect("push");
    effects.rollback(savepoint);
    let third = effects.push(&actor(), event("c"), 1 << 20).expect("push");
    assert_ne!(nested, third, "ids are not reused after a rollback");
    let taken = effects.take();
    assert_eq!(
        taken.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        vec![first.clone(), third]
    );
    // The next turn with the same seed (a retry that did not commit the
    // first time) gets the same ids again.
    effects.begin("req-1".into());
    assert_eq!(
        effects.push(&actor(), event("a"), 1 << 20).expect("push"),
        first
    );
    effects.discard();
    assert!(effects.is_empty());
}

#[test]
fn a_turn_without_a_request_id_gets_a_random_seed() {
    let mut effects = TurnEffects::default();
    let a = effects.push(&actor(), event("a"), 1 << 20).expect("push");
    effects.take();
    let b = effects.push(&actor(), event("a"), 1 << 20).expect("push");
    assert_ne!(a, b);
}

#[test]
fn a_turn_may_make_at_most_the_limit() {
    let mut effects = TurnEffects::default();
    effects.begin("r".into());
    for _ in 0..MAX_EFFECTS_PER_TURN {
        effects
            .push(&actor(), event("a"), 1 << 20)
            .expect("within the limit");
    }
    let err = effects
        .push(&actor(), event("a"), 1 << 20)
        .expect_err("over");
    assert!(err.contains("at most 1000"), "{err}");
    let mut effects = TurnEffects::default();
    let size = event("a").size();
    effects
        .push(&actor(), event("a"), 2 * size)
        .expect("one fits");
    effects
        .push(&actor(), event("a"), 2 * size)
        .expect("two fit");
    let err = effects
        .push(&actor(), event("a"), 2 * size)
        .expect_err("three do not");
    assert!(err.contains("bytes in all"), "{err}");
}

#[test]
fn records_round_trip_and_carry_their_id_to_the_receiver() {
    let record = OutboxRecord::new(&actor(), "id-0".into(), event("alerts"), 42);
    let back = OutboxRecord::from_bytes(&record.to_bytes()).expect("decode");
    assert_eq!(back, record);
    let Some(Effect::Publish(p)) = back.to_effect() else {
        panic!("a publish");
    };
    assert_eq!(p.topic, "alerts");
    assert_eq!(
        p.metadata.get(CLOUDEVENT_ID_METADATA).map(String::as_str),
        Some("id-0")
    );
    assert_eq!(
        p.metadata.get("ttlInSeconds").map(String::as_str),
        Some("60")
    );

    let binding = Effect::Binding(BindingCall {
        name: "sms".into(),
        operation: "create".into(),
        data: Bytes::from_static(b"hi"),
        metadata: HashMap::new(),
    });
    let record = OutboxRecord::new(&actor(), "id-1".into(), binding, 42);
    let Some(Effect::Binding(b)) = record.to_effect() else {
        panic!("a binding");
    };
    assert_eq!((b.name.as_str(), b.operation.as_str()), ("sms", "create"));
    assert_eq!(
        b.metadata.get(EFFECT_ID_METADATA).map(String::as_str),
        Some("id-1")
    );
    assert!(OutboxRecord::from_bytes(b"\xff\xff").is_err());
}

#[test]
fn outbox_keys_live_outside_every_actor() {
    let keys = OutboxKeys::new("app");
    assert_eq!(keys.key("x-0"), "app||__wapr.outbox||x-0");
    assert!(keys.key("x-0").starts_with(keys.prefix()));
}
