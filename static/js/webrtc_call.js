// One browser side of a call through the server: microphone in, the server's audio out.
// The offer is sent only after ICE gathering has completed (the server does not take trickled candidates).

export class MicrophoneError extends Error {}

const GATHER_TIMEOUT_MS = 5000;

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); clearTimeout(timer); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    // Some hosts never report "complete" (an unreachable interface); the candidates found so far suffice.
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

export async function openMicrophone(messages) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new MicrophoneError(messages.noMicSupport);
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false });
  } catch (e) {
    if (e && (e.name === 'NotAllowedError' || e.name === 'SecurityError')) throw new MicrophoneError(messages.micDenied);
    if (e && e.name === 'NotFoundError') throw new MicrophoneError(messages.noMic);
    throw new MicrophoneError(`${messages.micFailed} (${e && e.name})`);
  }
}

// Start a peer: returns {pc, offer}. `mediaEl` (an <audio>, or a <video> on a video call) plays what the
// server sends. With `receiveVideo`, a stream without a camera still asks for the other side's video.
export async function startPeer(stream, mediaEl, onState, { receiveVideo = false } = {}) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  if (receiveVideo && !stream.getVideoTracks().length) pc.addTransceiver('video', { direction: 'recvonly' });
  const remote = new MediaStream();
  pc.addEventListener('track', (ev) => {
    remote.addTrack(ev.track);
    mediaEl.srcObject = remote;
    mediaEl.play().catch(() => {});
  });
  pc.addEventListener('connectionstatechange', () => onState && onState(pc.connectionState));
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  return { pc, offer: pc.localDescription.sdp };
}

export async function acceptAnswer(pc, sdp) {
  await pc.setRemoteDescription({ type: 'answer', sdp });
}

export function stopPeer(peer) {
  if (!peer) return;
  try { peer.pc.close(); } catch (e) { /* already closed */ }
}

export function stopStream(stream) {
  if (stream) stream.getTracks().forEach((t) => t.stop());
}
