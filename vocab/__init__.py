"""The project's vocabulary: the few facts every layer speaks of (a session's date, a
horizon, the scalar scoring rules, how a % move reads, the commands queued for the
daemon), defined once at the bottom of the import graph. Pure Python, standard library
only: store/, models/, assistant/ and tui/ may all import it, and it imports none of them."""
