"""Commands that embed nothing load no model: get, list, delete, stats, history import neither torch nor onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_helpers import Cli

HEAVY = ["torch", "sentence_transformers", "onnxruntime", "tokenizers"]
PROBE = """
import json, sys
from memorylink.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = json.loads(HEAVY)
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}), file=sys.stderr)
""".replace("HEAVY", repr(json.dumps(HEAVY)))


def loaded_by(cli: Cli, *args: str) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=cli.env, timeout=300
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    return report["code"], report["loaded"]


@pytest.mark.model
@pytest.mark.parametrize("embedder", ["minilm", "minilm-onnx"])
def test_only_embedding_commands_load_the_model(cli: Cli, embedder: str) -> None:
    cli.ok("init", "--embedder", embedder)
    code, loaded = loaded_by(cli, "add", "the model loads for this one", "-t", "t")
    assert code == 0 and loaded, "add must embed its text"
    memory_id = json.loads(cli.ok("list", "--json").stdout)["items"][0]["id"]
    for command in (["get", memory_id], ["list"], ["history", memory_id], ["stats"], ["delete", memory_id]):
        code, loaded = loaded_by(cli, *command)
        assert code == 0, command
        assert loaded == [], (command, loaded)
