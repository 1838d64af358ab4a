package com.microsoft.azure.functions;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public enum HttpStatus implements HttpStatusType {
    OK(200), SERVICE_UNAVAILABLE(503);

    private final int value;

    HttpStatus(int value) {
        this.value = value;
    }

    @Override
    public int value() {
        return value;
    }
}
