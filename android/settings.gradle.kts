// The Android build: `:latchkey`, the library an app embeds (the generated Kotlin, the
// portable shell from jvm/, the Android hooks and the Rust library per ABI → an AAR), and
// `:app`, the reference authenticator app on top of it (FCM, notifications, the approval
// screen). The JVM module (jvm/, Maven) stays the place where the shell is tested.
//
// Needs the Android SDK (ANDROID_HOME or local.properties) and, before the first build,
// scripts/package-android (jniLibs) — see docs/INTEGRATION.md §1.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "latchkey-android"

include(":latchkey", ":app")
