package com.microsoft.azure.functions;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public interface HttpStatusType {
    int value();
}
