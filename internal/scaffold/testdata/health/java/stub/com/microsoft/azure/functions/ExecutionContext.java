package com.microsoft.azure.functions;

import java.util.logging.Logger;

/** A stand-in for the azure-functions-java-library type of the same name: its signature only. */
public interface ExecutionContext {
    Logger getLogger();

    String getInvocationId();

    String getFunctionName();
}
