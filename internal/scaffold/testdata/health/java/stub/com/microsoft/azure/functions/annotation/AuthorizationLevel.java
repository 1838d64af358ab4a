package com.microsoft.azure.functions.annotation;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public enum AuthorizationLevel { ANONYMOUS, FUNCTION, ADMIN }
