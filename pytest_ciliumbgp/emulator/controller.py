"""A controller over the API store: one thread that reconciles after any change to the
resources it watches, and again every ``resync`` seconds (for state outside the store, such as
a BGP session's state or a pod's health).

    class Things(Controller):
        watches = ("pods", "services")
        def reconcile(self) -> None: ...

Events arrive under the store's lock, so the callback only sets a flag; ``reconcile`` runs in
the controller's thread and recomputes everything it owns from the store, so it is idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from .faults import Faults
from .kubeapi.store import Store
from .kubeapi.watch import WatchEvent

log = logging.getLogger(__name__)


class Controller:
    #: plural resource names whose events wake the controller
    watches: tuple[str, ...] = ()
    #: seconds between passes when nothing happens; None = only on events
    resync: float | None = None
    name = "controller"

    def __init__(self, store: Store, *, faults: Faults | None = None) -> None:
        self.store = store
        self.faults = faults or Faults()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._wakeup.set()

    def poke(self) -> None:
        """Ask for a pass soon (from any thread)."""
        self._wakeup.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._unsubscribe = self.store.subscribe(self._on_event)
        self._wakeup.set()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopping.set()
        self._wakeup.set()
        self._thread.join()
        self._thread = None
        self.stopped()

    def stopped(self) -> None:
        """Hook: release what the controller holds outside the store (after its thread ends)."""

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _on_event(self, event: WatchEvent) -> None:
        if event.resource.plural in self.watches:
            self._wakeup.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.wait(self.resync)
            if self._stopping.is_set():
                return
            self._wakeup.clear()
            try:
                self.reconcile()
            except Exception:  # one bad pass must not kill the controller; the next one retries
                log.exception("%s: reconcile failed", self.name)
                self._stopping.wait(0.5)
                self._wakeup.set()

    def reconcile(self) -> None:
        raise NotImplementedError
