/**
 * The event types of the player dialects (docs/events.md): the Livestreaming-Testbed's dash.js
 * client, our reporter SDK (packages/reporter, which imports this module) and the CMCD
 * collector. The QoE rules (src/qoe/dialects) key on these constants, and a test checks that
 * docs/events.md lists exactly these names, so a name changes in one place.
 */
/** Player event types; the reporter adds fields to the testbed's events, never renames them. */
export const EventType = {
    STREAM_INITIALIZED: 'stream_initialized',
    PLAY_REQUESTED: 'play_requested',
    PLAYBACK_STARTED: 'playback_started',
    FRAGMENT_LOADING_STARTED: 'fragment_loading_started',
    FRAGMENT_LOADING_COMPLETED: 'fragment_loading_completed',
    QUALITY_CHANGE_RENDERED: 'quality_change_rendered',
    BUFFER_LEVEL_UPDATED: 'buffer_level_updated',
    PLAYBACK_STATE_CHANGED: 'playback_state_changed',
    REBUFFER_EVENT: 'rebuffer_event',
    REBUFFER_ENDED: 'rebuffer_ended',
    PLAYBACK_ERROR: 'playback_error',
    PLAYBACK_ENDED: 'playback_ended',
    PERIODIC_METRICS: 'periodic_metrics',
    SESSION_ENDED: 'session_ended',
};
/** Every player event type, in the order docs/events.md lists them. */
export const PLAYER_EVENT_TYPES = Object.values(EventType);
/** CMCD reports are stored as `cmcd_<e>`, `e` being the CMCD event (`ps`, `t`, `bc`, `rr`, ...). */
export const CMCD_EVENT_PREFIX = 'cmcd_';
/** event_type of CMCD request-mode data (a `CMCD` query argument or `CMCD-*` headers): it has no `e`. */
export const CMCD_REQUEST_EVENT_TYPE = `${CMCD_EVENT_PREFIX}request`;
