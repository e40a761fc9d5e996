/// <reference path="./interfaces/wapr-actor-actors.d.ts" />
/// <reference path="./interfaces/wapr-actor-clock.d.ts" />
/// <reference path="./interfaces/wapr-actor-dapr.d.ts" />
/// <reference path="./interfaces/wapr-actor-handler.d.ts" />
/// <reference path="./interfaces/wapr-actor-log.d.ts" />
/// <reference path="./interfaces/wapr-actor-random.d.ts" />
/// <reference path="./interfaces/wapr-actor-scheduling.d.ts" />
/// <reference path="./interfaces/wapr-actor-state.d.ts" />
/// <reference path="./interfaces/wapr-actor-types.d.ts" />
declare module 'wapr:actor/actor@0.2.1' {
  export type * as WaprActorActors021 from 'wapr:actor/actors@0.2.1'; // import wapr:actor/actors@0.2.1
  export type * as WaprActorClock021 from 'wapr:actor/clock@0.2.1'; // import wapr:actor/clock@0.2.1
  export type * as WaprActorDapr021 from 'wapr:actor/dapr@0.2.1'; // import wapr:actor/dapr@0.2.1
  export type * as WaprActorLog021 from 'wapr:actor/log@0.2.1'; // import wapr:actor/log@0.2.1
  export type * as WaprActorRandom021 from 'wapr:actor/random@0.2.1'; // import wapr:actor/random@0.2.1
  export type * as WaprActorScheduling021 from 'wapr:actor/scheduling@0.2.1'; // import wapr:actor/scheduling@0.2.1
  export type * as WaprActorState021 from 'wapr:actor/state@0.2.1'; // import wapr:actor/state@0.2.1
  export type * as WaprActorTypes021 from 'wapr:actor/types@0.2.1'; // import wapr:actor/types@0.2.1
  export * as handler from 'wapr:actor/handler@0.2.1'; // export wapr:actor/handler@0.2.1
}
