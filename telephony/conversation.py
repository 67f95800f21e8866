"""How a call behaves beyond the LLM: hang-ups, silence, time limit, transfers, end phrases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from loguru import logger

from agent.assistant import Assistant
from agent.guarded_llm import describe
from agent.phrases import Phrases
from agent.tool_config import TransferDestination
from agent.tools import DtmfFailed, TransferBrief, TransferFailed
from crm.db import Database
from crm.followups import create_task
from crm.models import utcnow
from telephony.carrier import CallLeg, NotSupported
from telephony.desk.escalation import Escalation
from telephony.desk.handover import connect, open_escalation
from telephony.desk.offers import AgentDesk
from voice.playback import BotTurn
from voice.speaker import CallSpeaker

# After a transfer, the carrier ends our media; if it does not, we end our side.
TRANSFER_STOP_WAIT_SECS = 10.0
# When the LLM fails, the lead is called back this much later.
LLM_FAILURE_CALLBACK = timedelta(minutes=15)


@dataclass
class CallFacts:
    """What the conversation needs to know about its call.

    Parameters:
        call_id: Our call id.
        lead_id: The lead, when known.
        assistant: The assistant the call started with.
        phrases: Lines in the caller's language.
        render: Fills ``{{variables}}`` in a configured line.
    """

    call_id: str
    lead_id: str | None
    assistant: Assistant
    phrases: Phrases
    render: Callable[[str], str]


class CallConversation:
    """The call's own behaviour around the LLM, and the live-call control its tools use.

    - a silent caller gets one prompt, then a polite goodbye (``silenceTimeoutSeconds``);
    - the call ends at ``maxDurationSeconds``, with a goodbye;
    - an ``endCallPhrases`` phrase in what the bot said ends the call once heard;
    - an LLM that fails twice ends the call gracefully with a callback scheduled;
    - tools say lines, hang up, transfer and press keys through it
      (``agent.tools.CallControl``); the carrier's leg (:class:`telephony.carrier.CallLeg`)
      acts on the call, whichever carrier it is.

    The first reason to end the call is the one recorded.
    """

    def __init__(
        self,
        facts: CallFacts,
        speaker: CallSpeaker,
        leg: CallLeg,
        db: Database,
        desk: AgentDesk | None = None,
    ):
        """Prepare the behaviour of one call; timers start with :meth:`start`.

        ``desk`` reaches the agents of queue destinations (None: queues cannot be reached).
        """
        self._desk = desk
        self._facts = facts
        self._speaker = speaker
        self._leg = leg
        self._db = db
        self._idle_prompts = 0
        self._far_end_holding = False
        self._caller_spoke = False
        self._tasks: set[asyncio.Task] = set()
        self.end_reason: str | None = None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        """Start the call's time limit."""
        self._spawn(self._time_limit(self._facts.assistant.max_duration_seconds))

    def wait_for_first_words(self) -> None:
        """The assistant waits for the caller to speak first: the silence count starts now.

        (pipecat counts silence from the end of a bot turn; with no greeting there is none.)
        """
        self._spawn(self._first_words(self._facts.assistant.silence_timeout_seconds / 2))

    async def _first_words(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if not self._caller_spoke and self.end_reason is None:
            logger.info(
                f"call {self._facts.call_id}: the caller said nothing for {seconds:g}s after "
                f"answering"
            )
            await self.user_idle()

    async def stop(self) -> None:
        """Cancel timers and pending work (the call is over)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _line(self, configured: str, default: str) -> str:
        return self._facts.render(configured) if configured.strip() else default

    async def _time_limit(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        logger.info(f"call {self._facts.call_id}: reached maxDurationSeconds ({seconds:g}s)")
        goodbye = self._line(
            self._facts.assistant.end_call_message, self._facts.phrases.max_duration_goodbye
        )
        await self.hang_up("max-duration", goodbye)

    # Pipeline hooks

    async def far_end_holds(self, holding: bool) -> None:
        """The caller's side put the call on hold (a PBX's hold button), or took it off.

        Nobody hears the bot meanwhile, so what it is saying stops; the silence that
        follows is not the caller's, so it prompts no one and ends nothing. Once they
        are back, the silence count starts over and the bot waits for them to speak.
        """
        self._far_end_holding = holding
        self._idle_prompts = 0
        logger.info(f"call {self._facts.call_id}: {'on hold' if holding else 'off hold'}")
        if holding:
            await self._speaker.interrupt()

    async def user_idle(self) -> None:
        """The caller said nothing for half the silence timeout: prompt once, then say goodbye."""
        if self.end_reason is not None or self._far_end_holding:
            return  # ending, held for a transfer, or the caller's side holds us
        if self._idle_prompts == 0:
            self._idle_prompts += 1
            prompts = self._facts.assistant.message_plan.idle_messages
            prompt = self._line(prompts[0] if prompts else "", self._facts.phrases.idle_prompt)
            await self._speaker.say(prompt, wait=False)
        else:
            await self.hang_up("silence-timeout", self._facts.phrases.silence_goodbye)

    async def user_turn_started(self) -> None:
        """The caller spoke: the silence count starts over."""
        self._caller_spoke = True
        self._idle_prompts = 0

    async def bot_turn(self, turn: BotTurn) -> None:
        """End the call once the bot was heard saying one of its end-call phrases."""
        if turn.interrupted or not self._facts.assistant.end_call_phrases:
            return
        said = turn.text.lower()
        if any(phrase.lower() in said for phrase in self._facts.assistant.end_call_phrases):
            await self.hang_up("end-call-phrase", None)

    async def llm_failed(self, error: BaseException) -> None:
        """The LLM failed twice: schedule a callback and end the call politely."""
        logger.error(
            f"call {self._facts.call_id}: LLM failed twice ({describe(error)}); "
            f"ending with a callback"
        )
        if self._facts.lead_id:
            try:
                async with self._db.session() as session:
                    await create_task(
                        session,
                        kind="callback",
                        title="Call back: the assistant could not answer",
                        lead_id=self._facts.lead_id,
                        due_at=utcnow() + LLM_FAILURE_CALLBACK,
                        reason=f"LLM failure during call ({describe(error)})",
                        call_id=self._facts.call_id,
                    )
            except Exception as e:
                logger.error(f"call {self._facts.call_id}: could not schedule the callback: {e}")
        await self.hang_up("llm-error", self._facts.phrases.llm_failure)

    # agent.tools.CallControl

    async def say(self, text: str) -> None:
        """Say a line after what is being said; returns at once (the tool's result is not held)."""
        await self._speaker.say(text, wait=False)

    async def hang_up(self, reason: str, goodbye: str | None) -> None:
        """Start ending the call (in the background); the first reason given is kept."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        logger.info(f"call {self._facts.call_id}: hanging up ({reason})")
        self._spawn(self._speaker.hang_up(reason, goodbye))

    async def machine_answered(self, message: str | None) -> None:
        """An answering machine answered: stop talking over its beep, leave the message, hang up."""
        if self.end_reason is not None:
            return
        await self._speaker.interrupt()
        await self.hang_up("voicemail", self._facts.render(message) if message else None)

    async def transfer(
        self,
        destination: TransferDestination,
        announcement: str,
        brief: TransferBrief | None = None,
    ) -> None:
        """Say the announcement, then have the carrier move the call.

        A queue destination goes to one of its available agents: blind (the call is
        moved to their phone) or warm (the carrier holds the caller and rings agents,
        who hear ``brief`` first; while it runs, nothing else ends the call).

        Raises:
            TransferFailed: Not possible or refused; the caller is listened to again.
        """
        if self.end_reason is not None:
            raise TransferFailed(f"the call is already ending ({self.end_reason})")
        if destination.type == "queue":
            return await self._to_queue(destination, announcement, brief)
        if reason := self._leg.cannot_transfer():
            raise TransferFailed(reason)
        self._speaker.hold_caller()
        await self._speaker.say(announcement)
        self.end_reason = "transferred"
        try:
            await self._leg.transfer(destination)
        except TransferFailed as e:
            self._taken_back(destination, e)
            raise
        logger.info(f"call {self._facts.call_id}: transferred to {destination.target}")
        self._spawn(self._end_after_transfer())

    async def _to_queue(
        self, destination: TransferDestination, announcement: str, brief: TransferBrief | None
    ) -> None:
        brief = brief or TransferBrief("the caller asked for a person", "")
        escalation = await open_escalation(
            self._desk, self._facts.call_id, self._leg, destination, brief
        )
        self._speaker.hold_caller()
        await self._speaker.say(announcement)
        self.end_reason = "transferred"
        try:
            await connect(self._leg, escalation, destination)
        except TransferFailed as e:
            self._taken_back(destination, e)
            raise
        logger.info(f"call {self._facts.call_id}: transferred to {destination.target}")
        self._spawn(self._end_after_transfer())

    async def take_over(self, agent_id: str, transfer_id: str, queue: str | None) -> None:
        """An agent takes the call over: the AI stops and leaves, their phone is bridged in.

        Returns once the takeover is recorded; the agent is rung in the background (as in
        a warm transfer).

        Raises:
            TransferFailed: The call is ending, or the carrier cannot hold its caller.
        """
        if self.end_reason is not None:
            raise TransferFailed(f"the call is already ending ({self.end_reason})")
        destination = TransferDestination(type="queue", queue=queue or "takeover", mode="warm")
        brief = TransferBrief("an agent took the call over", "You asked to take this call over.")
        escalation = await open_escalation(
            self._desk,
            self._facts.call_id,
            self._leg,
            destination,
            brief,
            transfer_id=transfer_id,
            agent_id=agent_id,
        )
        self.end_reason = "taken-over"
        self._speaker.hold_caller()
        await self._speaker.interrupt()
        self._spawn(self._hand_over(escalation, destination))

    async def _hand_over(self, escalation: Escalation, destination: TransferDestination) -> None:
        await self._speaker.say(self._facts.phrases.transfer)
        try:
            await connect(self._leg, escalation, destination)
        except TransferFailed as e:
            self._taken_back(destination, e)
            await self._speaker.say(self._facts.phrases.transfer_failed, wait=False)
            return
        logger.info(f"call {self._facts.call_id}: taken over by an agent")
        self._spawn(self._end_after_transfer())

    def _taken_back(self, destination: TransferDestination, error: TransferFailed) -> None:
        """The transfer failed: the caller is ours again and listened to."""
        self.end_reason = None
        self._speaker.hold_caller(False)
        logger.warning(
            f"call {self._facts.call_id}: transfer to {destination.target} failed: {error}"
        )

    async def send_dtmf(self, keys: str) -> None:
        """Press keys on the call (e.g. to walk a phone menu), once what the bot says has played.

        Raises:
            DtmfFailed: The call is ending, the carrier cannot send keys, or it failed to.
        """
        if self.end_reason is not None:
            raise DtmfFailed(f"the call is already ending ({self.end_reason})")
        await self._speaker.played_out()
        try:
            await self._leg.send_dtmf(keys)
        except NotSupported as e:
            raise DtmfFailed(str(e)) from None
        logger.info(f"call {self._facts.call_id}: pressed {len(keys)} key(s)")

    async def _end_after_transfer(self) -> None:
        await asyncio.sleep(TRANSFER_STOP_WAIT_SECS)
        await self._speaker.hang_up("transferred")
