"""Ranking: dense and lexical retrieval, their fusion, and reading the question."""
