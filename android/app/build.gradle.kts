// `:app` — the reference authenticator app: the launcher screen, the login notification with
// its actions, the screens rendering the core's app model, the notice sync job,
// the wiring of the Authenticator, and the thin FCM adapter. Needs app/google-services.json
// from the Firebase console (not committed: it names your Firebase project).
//
// src/main/kotlin has no Firebase dependency and is also compiled and tested by the
// Robolectric Maven module (../robolectric); src/fcm/kotlin holds the FCM adapter alone and
// is compiled here only.
import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("com.google.gms.google-services")
}

android {
    namespace = "dev.latchkey.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.latchkey.app"
        minSdk = 28
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            isShrinkResources = true
            // :latchkey ships its own keep rules (JNA, dev.latchkey.ffi) as consumer rules.
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    // The FCM adapter: a second source root, so that src/main compiles without Firebase.
    sourceSets["main"].java.srcDir("src/fcm/kotlin")

    buildFeatures {
        buildConfig = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        jniLibs {
            useLegacyPackaging = false
        }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(project(":latchkey"))
    implementation(platform("com.google.firebase:firebase-bom:33.7.0"))
    implementation("com.google.firebase:firebase-messaging")
    implementation("androidx.core:core-ktx:1.15.0")
    implementation("androidx.fragment:fragment-ktx:1.8.5")
    implementation("androidx.biometric:biometric:1.1.0")
}
