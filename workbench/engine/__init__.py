"""The engine: compares what a profile wants with facts read from hosts, acts, yields Events."""
