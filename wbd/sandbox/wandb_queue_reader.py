"""W&B reading its file-storage queue, emulated: what the W&B stand-in (which answers HTTP only) does not do itself.

Where the deployment wires the queue to W&B (the legacy app module's BUCKET_QUEUE; the Terraform emulation tags such
queues, see `terraform_emulation/app_wiring.py`), W&B receives the bucket's ObjectCreated events and deletes them. This
reader does the same every `interval` seconds, straight in the emulator's SQS backend (in-process, so it adds no API
calls to the sandbox's counters). `reading(False)` stops it, as a W&B that no longer consumes its queue.
"""

from __future__ import annotations

import logging
import threading

from moto.sqs.exceptions import QueueDoesNotExist, ReceiptHandleIsInvalid
from moto.sqs.models import sqs_backends

from wbd.sandbox.terraform_emulation.app_wiring import READ_BY_TAG

LOGGER = logging.getLogger(__name__)


class WandbQueueReader:
    def __init__(self, account_id: str, interval: float = 0.2) -> None:
        self.account_id = account_id
        self.interval = interval
        self.consumed = 0
        self._reading = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WandbQueueReader:
        self._reading.set()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="wandb-queue-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def reading(self, on: bool) -> None:
        """True: W&B consumes its queue (the default); False: messages stay and age."""
        if on:
            self._reading.set()
        else:
            self._reading.clear()

    def drain_once(self) -> int:
        """Receive and delete every visible message of the queues W&B reads; returns how many."""
        count = 0
        for backend in list(sqs_backends[self.account_id].values()):
            for name, queue in list(backend.queues.items()):
                if queue.tags.get(READ_BY_TAG) != "wandb":
                    continue
                for message in backend.receive_message(name, 10, 0, 30):
                    if message.receipt_handle is not None:
                        backend.delete_message(name, message.receipt_handle)
                        count += 1
        self.consumed += count
        return count

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            if self._reading.is_set():
                try:
                    self.drain_once()
                except (QueueDoesNotExist, ReceiptHandleIsInvalid):  # deleted mid-read: the next tick reads again
                    LOGGER.debug("queue read interrupted", exc_info=True)
