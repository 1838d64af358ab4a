package com.microsoft.azure.functions;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public enum HttpMethod { GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH }
