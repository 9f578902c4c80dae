"""The domain's values and errors beside its models (`verification.models`):
what a verification step can end in (`outcome`) and the typed errors that
services raise and only the web layer turns into HTTP (`errors`)."""
