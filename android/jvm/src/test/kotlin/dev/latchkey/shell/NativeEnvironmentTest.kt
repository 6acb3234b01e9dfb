package dev.latchkey.shell

import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.Platform
import java.io.File
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

/** What the binding tests rely on: JNA works here and the build says where Rust's output is. */
class NativeEnvironmentTest {
    private interface CLibrary : Library {
        fun getpid(): Int
    }

    @Test
    fun `JNA calls into native code on this JVM`() {
        val libc = Native.load(Platform.C_LIBRARY_NAME, CLibrary::class.java)

        assertEquals(ProcessHandle.current().pid(), libc.getpid().toLong())
    }

    @Test
    fun `the build passes absolute paths to the Rust library and the latchkey binary`() {
        for (key in listOf("jna.library.path", "latchkey.cli.bin", "latchkey.server.bin")) {
            val value = System.getProperty(key)
            assertNotNull(value, "system property $key")
            assertTrue(File(value).isAbsolute, "$key=$value is not absolute")
        }
    }
}
