"""LlamaIndex nodes to memorylink memories and back.

A node becomes one memory: its text is the memory's text (embedded by the store), and its
metadata is the node's own metadata (filterable as ``metadata.<key>``) plus the reserved keys
LlamaIndex vector stores share (``_node_content``, the node as JSON without its text;
``_node_type``; ``ref_doc_id`` / ``doc_id`` / ``document_id``) and ``_node_id``. A memory that
was not written through the adapter (by the CLI, the MCP server, ...) comes back as a
``TextNode`` whose id is the memory id and whose metadata is the memory's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from memorylink.models import Memory

__all__ = ["NODE_ID_KEY", "RESERVED_KEYS", "REF_DOC_ID_KEY", "memory_to_node", "node_to_item"]

NODE_ID_KEY = "_node_id"
REF_DOC_ID_KEY = "ref_doc_id"
RESERVED_KEYS = frozenset({"_node_content", "_node_type", NODE_ID_KEY, REF_DOC_ID_KEY, "doc_id", "document_id"})
"""Metadata keys the adapter writes beside a node's own metadata."""


def node_to_item(node: BaseNode, scope: Mapping[str, object]) -> dict[str, Any]:
    """The ``add_many`` item for ``node`` (its embedding is dropped: the store embeds the text)."""
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=False)
    metadata[NODE_ID_KEY] = node.node_id
    return {"text": node.get_content(), "metadata": metadata, **scope}


def memory_to_node(memory: Memory) -> BaseNode:
    """The node a memory holds (or a TextNode over a memory written by another front-end)."""
    if "_node_content" in memory.metadata:
        return metadata_dict_to_node(memory.metadata, text=memory.text)
    return TextNode(id_=memory.id, text=memory.text, metadata=dict(memory.metadata))
