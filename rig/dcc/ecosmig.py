"""ECOSMIG-007 "Summary Report: ECoS Total Counts" from the inventory [SEED-001 App A].

Layout (field sizes are maxima, per the EMRR appendix):

* header ``00``: Report Identifier ``ECOSMIG-007`` (11), Report Recipient = the responsible
  supplier's SEC Party ID (6), Report Sequence Number (integer 6), Report Title (100), creation,
  applicable start and end date-times (``YYYYMMDDThhmmss``), DCC Classification
  ``DCC Controlled`` (14);
* one detail ``10``: five integer(9) counts, in order: migrations successfully completed,
  failed migration attempts, ECoS installed devices, remaining TCoS devices, Non-Migratable
  devices;
* trailer ``99``: Rows Count (integer 6), DCC Classification.

Project readings (UNCONFIRMED, configurable): fields are separated by ``delimiter`` (","); Rows
Count counts every record including header and trailer (``rows_count="all"``) or only detail
records (``"detail"``). Counting: successes and failures are per attempt within the period
(retries count again, SEED-001 App A); ECoS installed devices are ECOS devices that were not
migrated; remaining TCoS devices are those not (known to be) ECOS, i.e. TCOS and UNKNOWN;
Non-Migratable devices are the non-ECOS devices of models classified NON_MIGRATABLE.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from .ids import EuiLike
from .inventory import CredentialOrigin, Inventory
from .migration import ModelVerdict
from .tables import AttemptResult, CredentialStatus

REPORT_ID = "ECOSMIG-007"
TITLE = "Summary Report: ECoS Total Counts"
CLASSIFICATION = "DCC Controlled"


def _stamp(value: _dt.datetime) -> str:
    return value.astimezone(_dt.UTC).strftime("%Y%m%dT%H%M%S")


def _text(value: str, size: int, what: str) -> str:
    if len(value) > size:
        raise ValueError(f"{what} {value!r} is longer than {size} characters")
    return value


def _integer(value: int, digits: int, what: str) -> str:
    if not 0 <= value < 10**digits:
        raise ValueError(f"{what} {value} does not fit Integer({digits})")
    return str(value)


@dataclass(frozen=True)
class Ecosmig007:
    recipient: str
    sequence: int
    created: _dt.datetime
    start: _dt.datetime
    end: _dt.datetime
    successful_migrations: int
    failed_attempts: int
    ecos_installed: int
    remaining_tcos: int
    non_migratable: int
    rows_count: str = "all"
    delimiter: str = ","

    def records(self) -> list[list[str]]:
        header = ["00", REPORT_ID, _text(self.recipient, 6, "Report Recipient"),
                  _integer(self.sequence, 6, "Report Sequence Number"), _text(TITLE, 100, "Report Title"),
                  _stamp(self.created), _stamp(self.start), _stamp(self.end), CLASSIFICATION]
        counts = (("successful migrations", self.successful_migrations), ("failed attempts", self.failed_attempts),
                  ("ECoS installed devices", self.ecos_installed), ("remaining TCoS devices", self.remaining_tcos),
                  ("Non-Migratable devices", self.non_migratable))
        detail = ["10", *(_integer(value, 9, what) for what, value in counts)]
        rows = 3 if self.rows_count == "all" else 1
        return [header, detail, ["99", _integer(rows, 6, "Rows Count"), CLASSIFICATION]]

    def render(self) -> str:
        return "".join(self.delimiter.join(record) + "\n" for record in self.records())


def build(inventory: Inventory, *, recipient: str, sequence: int, start: _dt.datetime, end: _dt.datetime,
          created: _dt.datetime | None = None, supplier_id: EuiLike | None = None, rows_count: str = "all",
          delimiter: str = ",") -> Ecosmig007:
    """The report for the devices of ``supplier_id`` (all devices when None) over [start, end]."""
    devices = inventory.devices(supplier_id=supplier_id)
    ids = {d.device_id for d in devices}
    attempts = [a for a in inventory.attempts(since=start.timestamp(), until=end.timestamp()) if a.device_id in ids]
    non_migratable_models = set(inventory.models_with_verdict(ModelVerdict.NON_MIGRATABLE))
    not_ecos = [d for d in devices if d.credential_status is not CredentialStatus.ECOS]
    return Ecosmig007(
        recipient=recipient, sequence=sequence, created=created or _dt.datetime.now(_dt.UTC), start=start, end=end,
        successful_migrations=sum(a.result is AttemptResult.SUCCESS for a in attempts),
        failed_attempts=sum(a.result is not AttemptResult.SUCCESS for a in attempts),
        ecos_installed=sum(d.credential_status is CredentialStatus.ECOS
                           and d.credential_origin is CredentialOrigin.INSTALLED for d in devices),
        remaining_tcos=len(not_ecos),
        non_migratable=sum(d.model in non_migratable_models for d in not_ecos),
        rows_count=rows_count, delimiter=delimiter,
    )
