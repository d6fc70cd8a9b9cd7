"""The livestream media's refusal, importable by web code without loading aiortc."""


class MediaError(ValueError):
    """A refused media request (bad SDP, no publisher, stream ended); the message is shown as is."""


def offer_sdp(offer) -> str:
    """The SDP of a well-formed offer, or MediaError (checked on the web side too, before anything moves)."""
    if not isinstance(offer, dict) or offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
        raise MediaError("expected an SDP offer: {type: 'offer', sdp: '...'}")
    return offer["sdp"]
