package com.microsoft.azure.functions;

import java.net.URI;
import java.util.Map;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public interface HttpRequestMessage<T> {
    URI getUri();

    HttpMethod getHttpMethod();

    Map<String, String> getHeaders();

    Map<String, String> getQueryParameters();

    T getBody();

    HttpResponseMessage.Builder createResponseBuilder(HttpStatus status);

    HttpResponseMessage.Builder createResponseBuilder(HttpStatusType status);
}
