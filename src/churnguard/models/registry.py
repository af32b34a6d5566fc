"""The model registry in the operational database: which model scored what, and which leads.

One row per trained model (``model_versions``): version, family, training
window, feature list, catalog version, metrics, artifact path and checksum,
status ``champion`` / ``challenger`` / ``retired``. At most one champion per
target; promoting a model retires the previous champion in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Date, DateTime, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import NotFoundError, StateError
from ..warehouse.operational import Base, session_scope

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "STATUSES",
    "ModelVersion",
    "champion",
    "get_version",
    "list_versions",
    "next_run_id",
    "promote",
    "versions_of_run",
]

STATUSES = ("champion", "challenger", "retired")


class ModelVersion(Base):
    """A registered model (table ``model_versions``, created by migration 0001)."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    run_id: Mapped[int] = mapped_column(Integer)
    family: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[date] = mapped_column(Date)
    train_start: Mapped[date] = mapped_column(Date)
    train_end: Mapped[date] = mapped_column(Date)
    validation_month: Mapped[date] = mapped_column(Date)
    rows_train: Mapped[int] = mapped_column(Integer)
    rows_validation: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    catalog_version: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    calibration: Mapped[str] = mapped_column(String(16))
    artifact_path: Mapped[str] = mapped_column(String(512))
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view of the row."""
        return {
            "version": self.version,
            "run_id": self.run_id,
            "family": self.family,
            "target": self.target,
            "status": self.status,
            "as_of": self.as_of.isoformat(),
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "validation_month": self.validation_month.isoformat(),
            "rows_train": self.rows_train,
            "rows_validation": self.rows_validation,
            "features": list(self.features),
            "catalog_version": self.catalog_version,
            "metrics": dict(self.metrics),
            "calibration": self.calibration,
            "artifact_path": self.artifact_path,
            "checksum": self.checksum,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "promoted_at": self.promoted_at.isoformat() if self.promoted_at else None,
        }


def next_run_id(session: Session) -> int:
    """The id of a new training run (one more than the last)."""
    last = session.scalar(select(func.max(ModelVersion.run_id)))
    return int(last or 0) + 1


def list_versions(
    settings: Settings, *, target: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Registered models, newest first."""
    with session_scope(settings) as s:
        q = select(ModelVersion).order_by(ModelVersion.id.desc())
        if target is not None:
            q = q.where(ModelVersion.target == target)
        if status is not None:
            q = q.where(ModelVersion.status == status)
        return [m.to_dict() for m in s.scalars(q)]


def versions_of_run(settings: Settings, run_id: int) -> list[dict[str, Any]]:
    """The models registered by one training run."""
    with session_scope(settings) as s:
        q = select(ModelVersion).where(ModelVersion.run_id == run_id).order_by(ModelVersion.id)
        return [m.to_dict() for m in s.scalars(q)]


def get_version(settings: Settings, version: str) -> dict[str, Any]:
    """One registered model.

    Raises
    ------
    NotFoundError
        No such version (the message lists the latest ones).
    """
    with session_scope(settings) as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.version == version))
        if row is None:
            recent = s.scalars(
                select(ModelVersion.version).order_by(ModelVersion.id.desc()).limit(5)
            ).all()
            hint = f"latest: {', '.join(recent)}" if recent else "none registered yet"
            raise NotFoundError(
                f"no model version {version!r} ({hint}); see 'churnguard model list'"
            )
        return row.to_dict()


def champion(settings: Settings, *, target: str = "voluntary") -> dict[str, Any]:
    """The current champion for ``target``.

    Raises
    ------
    StateError
        No champion yet.
    """
    with session_scope(settings) as s:
        row = s.scalar(
            select(ModelVersion).where(
                ModelVersion.target == target, ModelVersion.status == "champion"
            )
        )
        if row is None:
            raise StateError(
                f"no champion model for the {target} target yet; run "
                f"'churnguard model train --as-of YYYY-MM --workspace {settings.workspace}'"
            )
        return row.to_dict()


def promote(settings: Settings, version: str) -> dict[str, Any]:
    """Make ``version`` the champion of its target; the previous champion is retired.

    Returns
    -------
    dict
        ``{"champion": new version, "retired": old version or None}``.
    """
    with session_scope(settings) as s:
        row = s.scalar(select(ModelVersion).where(ModelVersion.version == version))
        if row is None:
            raise NotFoundError(f"no model version {version!r}; see 'churnguard model list'")
        if row.status == "champion":
            raise StateError(f"{version} is already the champion")
        old = s.scalars(
            select(ModelVersion).where(
                ModelVersion.target == row.target, ModelVersion.status == "champion"
            )
        ).all()
        for o in old:
            o.status = "retired"
        row.status = "champion"
        row.promoted_at = datetime.now(UTC)
        return {"champion": row.version, "retired": old[0].version if old else None}
