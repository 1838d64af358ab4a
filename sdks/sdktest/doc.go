// Package sdktest holds mock-runtime tests of the generated azure-native subset SDK: each
// resource and function of the subset is registered and its token, version and nested inputs are
// checked where they reach the engine.
package sdktest
