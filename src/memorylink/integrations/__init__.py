"""Adapters that plug memorylink into agent frameworks.

Each lives in its own subpackage behind an extra and is never imported by ``import memorylink``:

* :mod:`memorylink.integrations.langchain` (``pip install "memorylink[langchain]"``)
* :mod:`memorylink.integrations.llamaindex` (``pip install "memorylink[llamaindex]"``)
"""
