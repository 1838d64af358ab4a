// Package azurefake is a stand-in for the azure-native Pulumi provider (3.28.0) and the parts of
// Azure this program depends on, for running the real Pulumi engine offline. It validates
// inputs against the subset schema the SDK is generated from, names resources as azure-native
// does, returns azure-native's preview outputs, keeps a per-test cloud in a file, and refuses
// what Azure refuses. README.md lists each behaviour with the source it mirrors.
package azurefake
