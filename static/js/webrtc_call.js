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

// Start a peer: returns {pc, offer, stream}. `audioEl` plays what the server sends.
export async function startPeer(stream, audioEl, onState) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  stream.getTracks().forEach((t) => pc.addTrack(t, stream));
  pc.addEventListener('track', (ev) => {
    audioEl.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    audioEl.play().catch(() => {});
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
