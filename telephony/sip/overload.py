"""When every call slot is taken: a new INVITE gets 503 with Retry-After, before pjsua sees it.

pjsua holds at most ``PJSUA_MAX_CALLS`` calls (4 in the ``pjsua2-python`` wheel) and
answers one more INVITE itself with a bare 486, telling no one. pjsua2 exposes no
hook in front of that, so this registers a tiny PJSIP module through PJSIP's C API
(ctypes, on the symbols the pjsua2 extension exports), one priority step ahead of
pjsua's own: a new INVITE (no dialog, no transaction) arriving while pjsua is full
is answered statelessly with ``503 Call Limit Reached`` and ``Retry-After``, and
logged. A trunk or PBX then tries another server or later. Runs on the PJSIP thread.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from loguru import logger

PRIORITY = 63  # PJSIP_MOD_PRIORITY_APPLICATION (64, pjsua's module) minus one
_RX_REQUEST = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _PjStr(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_char_p), ("slen", ctypes.c_ssize_t)]


class _PjsipModule(ctypes.Structure):
    """``pjsip_module`` (sip_module.h), unchanged since PJSIP 0.x."""

    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("name", _PjStr),
        ("id", ctypes.c_int),
        ("priority", ctypes.c_int),
        ("load", ctypes.c_void_p),
        ("start", ctypes.c_void_p),
        ("stop", ctypes.c_void_p),
        ("unload", ctypes.c_void_p),
        ("on_rx_request", _RX_REQUEST),
        ("on_rx_response", ctypes.c_void_p),
        ("on_tx_request", ctypes.c_void_p),
        ("on_tx_response", ctypes.c_void_p),
        ("on_tsx_state", ctypes.c_void_p),
    ]


class _HdrList(ctypes.Structure):
    """The head of a ``pjsip_hdr`` list: a header's first fields are its list links."""

    _fields_ = [
        ("prev", ctypes.c_void_p),
        ("next", ctypes.c_void_p),
        ("type", ctypes.c_int),
        ("name", _PjStr),
        ("sname", _PjStr),
        ("vptr", ctypes.c_void_p),
    ]


class OverloadGuard:
    """Answers new INVITEs with 503 + Retry-After while pjsua has no call slot left."""

    def __init__(self, library: ctypes.CDLL, retry_after_secs: int, on_refused: Callable[[], None]):
        """Bind to the library's C API; :meth:`install` registers the module."""
        self._c = library
        self._retry_after = retry_after_secs
        self._on_refused = on_refused
        self._reason = _PjStr(b"Call Limit Reached", len(b"Call Limit Reached"))
        self._name = _PjStr(b"mod-phoneagent-overload", len(b"mod-phoneagent-overload"))
        self._callback = _RX_REQUEST(self._on_rx_request)  # kept: C holds the pointer
        self._module = _PjsipModule(name=self._name, id=-1, priority=PRIORITY)
        self._module.on_rx_request = self._callback
        self._headers = _HdrList()
        self._endpt: int | None = None
        self._pool: int | None = None
        self.refused = 0
        for name, restype, argtypes in (
            ("pjsua_get_pjsip_endpt", ctypes.c_void_p, []),
            ("pjsua_call_get_count", ctypes.c_uint, []),
            ("pjsua_call_get_max_count", ctypes.c_uint, []),
            ("pjsip_rx_data_get_info", ctypes.c_char_p, [ctypes.c_void_p]),
            ("pjsip_rdata_get_dlg", ctypes.c_void_p, [ctypes.c_void_p]),
            ("pjsip_rdata_get_tsx", ctypes.c_void_p, [ctypes.c_void_p]),
            ("pjsip_endpt_create_pool", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p,
                                                          ctypes.c_size_t, ctypes.c_size_t]),
            ("pjsip_endpt_release_pool", None, [ctypes.c_void_p, ctypes.c_void_p]),
            ("pjsip_retry_after_hdr_create", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_int]),
            ("pjsip_endpt_register_module", ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
            ("pjsip_endpt_unregister_module", ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
            ("pjsip_endpt_respond_stateless", ctypes.c_int, [
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                ctypes.c_void_p, ctypes.c_void_p]),
        ):  # fmt: skip
            function = getattr(library, name)  # AttributeError: a build without it
            function.restype, function.argtypes = restype, argtypes

    def install(self) -> None:
        """Register the module (after ``libInit``, on the PJSIP thread).

        Raises:
            RuntimeError: PJSIP refused the module.
        """
        c = self._c
        self._endpt = c.pjsua_get_pjsip_endpt()
        self._pool = c.pjsip_endpt_create_pool(self._endpt, b"overload", 512, 512)
        header = c.pjsip_retry_after_hdr_create(self._pool, self._retry_after)
        if not self._endpt or not self._pool or not header:
            raise RuntimeError("could not prepare the 503 response")
        links = _HdrList.from_address(header)
        head = ctypes.addressof(self._headers)
        self._headers.prev = self._headers.next = header
        links.prev = links.next = head
        status = c.pjsip_endpt_register_module(self._endpt, ctypes.byref(self._module))
        if status != 0:
            raise RuntimeError(f"PJSIP refused the module (status {status})")

    def uninstall(self) -> None:
        """Unregister the module and free its pool (before ``libDestroy``)."""
        if self._endpt is None:
            return
        self._c.pjsip_endpt_unregister_module(self._endpt, ctypes.byref(self._module))
        if self._pool:
            self._c.pjsip_endpt_release_pool(self._endpt, self._pool)
        self._endpt = self._pool = None

    @property
    def full(self) -> bool:
        """Whether pjsua has no slot for another call."""
        return self._c.pjsua_call_get_count() >= self._c.pjsua_call_get_max_count()

    def _on_rx_request(self, rdata: int) -> int:
        try:
            if not self.full:
                return 0
            info = self._c.pjsip_rx_data_get_info(rdata) or b""
            if not info.startswith(b"Request msg INVITE/"):
                return 0
            if self._c.pjsip_rdata_get_dlg(rdata) or self._c.pjsip_rdata_get_tsx(rdata):
                return 0  # a re-INVITE, or a retransmission: not a new call
            self._c.pjsip_endpt_respond_stateless(
                self._endpt,
                rdata,
                503,
                ctypes.byref(self._reason),
                ctypes.byref(self._headers),
                None,
            )
            self.refused += 1
            self._on_refused()
            return 1
        except Exception as e:  # pjsua's own 486 still applies
            logger.exception(f"SIP overload guard failed: {e}")
            return 0


def install_guard(
    library: ctypes.CDLL | None, retry_after_secs: int, on_refused: Callable[[], None]
) -> OverloadGuard | None:
    """The guard, installed; None (pjsua's bare 486 applies) where the build lacks the C API."""
    if library is None:
        return None
    try:
        guard = OverloadGuard(library, retry_after_secs, on_refused)
        guard.install()
    except (AttributeError, RuntimeError) as e:
        logger.warning(f"SIP: no 503 when full ({e}); PJSIP answers extra INVITEs with 486")
        return None
    return guard
