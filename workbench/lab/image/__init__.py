"""Files of the lab build image double (OPAM/MirageOS); copied into a docker build context."""
