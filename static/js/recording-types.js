// The types the recording page asks MediaRecorder for, best first: one list
// for the recorder (static/js/recorder.js) and for the device probe of an
// `auto` session (static/js/route.js), which reports what this device can
// record so the portal never picks a method the recorder cannot serve.
//
// H.264 first, in every container a browser records it in: the server
// copies an H.264 picture as it is and only makes the sound AAC, where VP9
// or VP8 must be re-encoded (some 6x the server's CPU). Safari records
// H.264 + AAC; desktop Chromium cannot record AAC but records H.264 with
// Opus, in MP4 or in Matroska ("video/webm;codecs=h264,opus" gives
// video/x-matroska). VP9/VP8 (Firefox) stay the fallback.
window.kycRecordingTypes = [
  "video/mp4;codecs=avc1.42E01E,mp4a.40.2",
  "video/mp4;codecs=avc1,opus",
  "video/webm;codecs=h264,opus",
  "video/mp4",
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=vp8,opus",
  "video/webm",
];
