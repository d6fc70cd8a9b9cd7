"""The error every contacts action raises for a refused request."""


class ActionError(ValueError):
    """A refused action; the message is shown to the user as is."""
