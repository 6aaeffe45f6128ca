"""Analysis tools that start from a checkpoint and write into ``RUN/analysis/<tool>/``."""
