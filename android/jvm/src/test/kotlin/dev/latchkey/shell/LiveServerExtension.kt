package dev.latchkey.shell

import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolver

/**
 * Hands tests a [LatchkeyServer]: one `latchkey serve --dev` for the whole test run,
 * started on first use and stopped when the run ends (JUnit closes `AutoCloseable` values of
 * the root store). Tests keep apart by using users of their own.
 */
class LiveServerExtension : ParameterResolver {
    override fun supportsParameter(parameter: ParameterContext, context: ExtensionContext): Boolean =
        parameter.parameter.type == LatchkeyServer::class.java

    override fun resolveParameter(parameter: ParameterContext, context: ExtensionContext): Any =
        context.root.getStore(NAMESPACE).getOrComputeIfAbsent(
            "server",
            { LatchkeyServer.start() },
            LatchkeyServer::class.java,
        )

    private companion object {
        val NAMESPACE: ExtensionContext.Namespace = ExtensionContext.Namespace.create(LiveServerExtension::class.java)
    }
}
