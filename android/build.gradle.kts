// Plugin versions, declared once for both modules (applied in each module's build file).
// Versions are not resolved on the machines that write this code (no Google Maven there):
// bump them together with the Android Gradle plugin's compatibility table.
plugins {
    id("com.android.library") version "8.7.3" apply false
    id("com.android.application") version "8.7.3" apply false
    id("org.jetbrains.kotlin.android") version "2.4.21" apply false
    id("com.google.gms.google-services") version "4.4.2" apply false
}
