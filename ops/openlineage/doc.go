// Package openlineage proves OpenLineage exports valid with OpenLineage's reference client
// (openlineage-python, whose model classes are generated from the spec's JSON schema): tests
// hand Check the RunEvents they export as JSON lines, and check.py in this directory rebuilds
// each with the client's classes and validators and compares the client's serialization with
// the event. ASSAY_OPENLINEAGE_PYTHON names a python with openlineage-python installed
// (setup.sh in this directory makes one and prints its path; make test sets it).
package openlineage
