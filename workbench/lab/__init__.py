"""The local lab: real hosts on this machine, and the two test doubles (Solo5, OPAM) it needs."""
