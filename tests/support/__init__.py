"""Helpers the tests share: factories, HTTP doubles, media samples, the
browser, the personas."""
