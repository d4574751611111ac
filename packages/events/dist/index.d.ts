/**
 * The event types of the player dialects (docs/events.md): the Livestreaming-Testbed's dash.js
 * client, our reporter SDK (packages/reporter, which imports this module) and the CMCD
 * collector. The QoE rules (src/qoe/dialects) key on these constants, and a test checks that
 * docs/events.md lists exactly these names, so a name changes in one place.
 */
/** Player event types; the reporter adds fields to the testbed's events, never renames them. */
export declare const EventType: {
    readonly STREAM_INITIALIZED: "stream_initialized";
    readonly PLAY_REQUESTED: "play_requested";
    readonly PLAYBACK_STARTED: "playback_started";
    readonly FRAGMENT_LOADING_STARTED: "fragment_loading_started";
    readonly FRAGMENT_LOADING_COMPLETED: "fragment_loading_completed";
    readonly QUALITY_CHANGE_RENDERED: "quality_change_rendered";
    readonly BUFFER_LEVEL_UPDATED: "buffer_level_updated";
    readonly PLAYBACK_STATE_CHANGED: "playback_state_changed";
    readonly REBUFFER_EVENT: "rebuffer_event";
    readonly REBUFFER_ENDED: "rebuffer_ended";
    readonly PLAYBACK_ERROR: "playback_error";
    readonly PLAYBACK_ENDED: "playback_ended";
    readonly PERIODIC_METRICS: "periodic_metrics";
    readonly SESSION_ENDED: "session_ended";
};
export type EventTypeName = (typeof EventType)[keyof typeof EventType];
/** Every player event type, in the order docs/events.md lists them. */
export declare const PLAYER_EVENT_TYPES: readonly EventTypeName[];
/** CMCD reports are stored as `cmcd_<e>`, `e` being the CMCD event (`ps`, `t`, `bc`, `rr`, ...). */
export declare const CMCD_EVENT_PREFIX = "cmcd_";
/** event_type of CMCD request-mode data (a `CMCD` query argument or `CMCD-*` headers): it has no `e`. */
export declare const CMCD_REQUEST_EVENT_TYPE = "cmcd_request";
