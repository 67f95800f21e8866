"""Simulated calls for local use and tests: a Twilio caller, its audio, ``phoneagent-call``."""

from telephony.simulator.call import CallSimulator, SimulatorError

__all__ = ["CallSimulator", "SimulatorError"]
