// A video call's recording: the camera files (muted <video class="recording-video">) follow the call audio
// (#recording-audio): play, pause, speed and every seek, including review.js's evidence clicks. Each file starts
// `data-offset` seconds into the audio; before its start or after its end it holds its first or last picture.
const audio = document.getElementById('recording-audio');
const videos = [...document.querySelectorAll('video.recording-video')];
const DRIFT = 0.3; // seconds a playing video may drift from the audio before it is set right

function sync(force) {
  for (const v of videos) {
    const t = audio.currentTime - Number(v.dataset.offset || 0);
    const end = Number.isFinite(v.duration) ? v.duration : Infinity;
    const inside = t >= 0 && t < end;
    const want = Math.max(0, Math.min(t, end));
    if (v.readyState >= 1 && (force || Math.abs(v.currentTime - want) > DRIFT)) {
      try { v.currentTime = want; } catch (e) { /* not seekable yet: the next event tries again */ }
    }
    v.playbackRate = audio.playbackRate;
    if (!audio.paused && inside) { if (v.paused) v.play().catch(() => {}); } else if (!v.paused) v.pause();
    v.classList.toggle('outside', !inside);
  }
}

if (audio && videos.length) {
  ['play', 'pause', 'seeked', 'ratechange'].forEach((e) => audio.addEventListener(e, () => sync(true)));
  audio.addEventListener('timeupdate', () => sync(false));
  videos.forEach((v) => v.addEventListener('loadedmetadata', () => sync(true)));
  window.kefuRecording = { audio, videos, sync }; // for e2e tests and debugging
}
