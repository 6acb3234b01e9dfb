// `:latchkey` — the Android library an authenticator app embeds, built into an AAR
// (scripts/package-android): the UniFFI-generated Kotlin (dev.latchkey.ffi), the portable
// shell from the JVM module (dev.latchkey.shell), the Android hooks (dev.latchkey.android:
// Android Keystore, BiometricPrompt, OkHttp, Logcat) and liblatchkey_ffi.so per ABI.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

// The portable shell is written and tested in the JVM module (android/jvm, Maven); the
// generated Kotlin is written there by scripts/gen-bindings. Both are copied into this
// module's generated sources, without the desktop-only JdkHttpTransport (Android has no
// java.net.http; OkHttpTransport replaces it).
val shellSources: File = rootProject.file("jvm/src/main/kotlin")
val generatedBindings: File = rootProject.file("jvm/target/generated-sources/uniffi/kotlin")
val portableSources: Provider<Directory> = layout.buildDirectory.dir("generated/source/latchkey/kotlin")

val syncPortableSources by tasks.registering(Sync::class) {
    description = "Copies the JVM module's shell and the generated bindings into this module."
    from(shellSources) { exclude("**/JdkHttpTransport.kt") }
    from(generatedBindings)
    into(portableSources)
    doFirst {
        check(File(generatedBindings, "dev/latchkey/ffi/latchkey_ffi.kt").isFile) {
            "no generated Kotlin in $generatedBindings: run scripts/gen-bindings (or scripts/package-android)"
        }
    }
}

android {
    namespace = "dev.latchkey"
    compileSdk = 35

    defaultConfig {
        // BiometricPrompt with a CryptoObject and StrongBox need API 28.
        minSdk = 28
        consumerProguardFiles("consumer-rules.pro")
        ndk {
            // What scripts/package-android builds into src/main/jniLibs.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
        }
    }

    sourceSets["main"].java.srcDir(portableSources)

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        jniLibs {
            // Stored uncompressed and page-aligned in the APK, loaded in place.
            useLegacyPackaging = false
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

tasks.named("preBuild") {
    dependsOn(syncPortableSources)
}

dependencies {
    // The JNI glue the generated Kotlin calls through; the @aar carries libjnidispatch.so
    // per ABI (the plain jar has desktop natives only).
    api("net.java.dev.jna:jna:5.19.1@aar")
    implementation("androidx.biometric:biometric:1.1.0")
    implementation("androidx.fragment:fragment-ktx:1.8.5")
    implementation("com.squareup.okhttp3:okhttp:5.5.1")
}
