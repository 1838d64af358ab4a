package com.microsoft.azure.functions;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public interface HttpResponseMessage {
    HttpStatusType getStatus();

    default int getStatusCode() {
        return getStatus().value();
    }

    String getHeader(String key);

    Object getBody();

    interface Builder {
        Builder status(HttpStatusType status);

        Builder header(String key, String value);

        Builder body(Object body);

        HttpResponseMessage build();
    }
}
