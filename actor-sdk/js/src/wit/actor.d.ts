/// <reference path="./interfaces/wapr-actor-actors.d.ts" />
/// <reference path="./interfaces/wapr-actor-clock.d.ts" />
/// <reference path="./interfaces/wapr-actor-handler.d.ts" />
/// <reference path="./interfaces/wapr-actor-log.d.ts" />
/// <reference path="./interfaces/wapr-actor-random.d.ts" />
/// <reference path="./interfaces/wapr-actor-scheduling.d.ts" />
/// <reference path="./interfaces/wapr-actor-state.d.ts" />
/// <reference path="./interfaces/wapr-actor-types.d.ts" />
declare module 'wapr:actor/actor@0.2.0' {
  export type * as WaprActorActors020 from 'wapr:actor/actors@0.2.0'; // import wapr:actor/actors@0.2.0
  export type * as WaprActorClock020 from 'wapr:actor/clock@0.2.0'; // import wapr:actor/clock@0.2.0
  export type * as WaprActorLog020 from 'wapr:actor/log@0.2.0'; // import wapr:actor/log@0.2.0
  export type * as WaprActorRandom020 from 'wapr:actor/random@0.2.0'; // import wapr:actor/random@0.2.0
  export type * as WaprActorScheduling020 from 'wapr:actor/scheduling@0.2.0'; // import wapr:actor/scheduling@0.2.0
  export type * as WaprActorState020 from 'wapr:actor/state@0.2.0'; // import wapr:actor/state@0.2.0
  export type * as WaprActorTypes020 from 'wapr:actor/types@0.2.0'; // import wapr:actor/types@0.2.0
  export * as handler from 'wapr:actor/handler@0.2.0'; // export wapr:actor/handler@0.2.0
}
