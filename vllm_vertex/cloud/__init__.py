"""Runtime operations against Google Cloud and Hugging Face.

These modules import the official clients inside functions: importing ``vllm_vertex.cloud``
costs nothing, so ``compile.py`` and the CLI start fast.
"""
