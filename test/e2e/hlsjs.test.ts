// hls.js end to end: real hls.js in Debian Chromium playing ffmpeg-made media, reporting through the
// reporter bundle to the real stats-server (SQLite). Starts ffmpeg (once), a static server,
// the app and Chromium. Scenarios are in scenarios.ts.
import { playerScenarios } from './scenarios.ts';

playerScenarios('hlsjs', 'hls.js');
