"""The one result shape the MCP tools need that the core models do not have."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DeleteResult"]


class DeleteResult(BaseModel):
    """What ``delete_memory`` did."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the id that was deleted")
    deleted: bool = Field(True, description="always true: deleting a memory that is not there is a tool error")
