"""Simulator errors: their messages are shown to the user as they are."""


class SimulatorError(ValueError):
    """A refused simulator request (unknown scenario, wrong channel); the message is shown as is."""


class ExerciseStateError(SimulatorError):
    """The exercise is not in a state that allows this (starting a running one, stopping a finished one)."""
