import SwiftUI
import VisionKit

/// Scans the activation QR code with the camera (VisionKit's data scanner) and hands back
/// the first QR payload it reads; the model checks it is a Latchkey activation link.
struct QRScannerView: UIViewControllerRepresentable {
    let scanned: (String) -> Void

    func makeUIViewController(context: Context) -> UIViewController {
        guard DataScannerViewController.isSupported, DataScannerViewController.isAvailable else {
            let controller = UIViewController()
            let label = UILabel()
            label.text = "The camera cannot scan here: paste the link instead."
            label.numberOfLines = 0
            label.textAlignment = .center
            controller.view = label
            return controller
        }
        let scanner = DataScannerViewController(
            recognizedDataTypes: [.barcode(symbologies: [.qr])],
            qualityLevel: .balanced,
            isHighlightingEnabled: true
        )
        scanner.delegate = context.coordinator
        try? scanner.startScanning()
        return scanner
    }

    func updateUIViewController(_ controller: UIViewController, context: Context) {}

    func makeCoordinator() -> Coordinator {
        Coordinator(scanned: scanned)
    }

    /// Receives the scanner's findings.
    final class Coordinator: NSObject, DataScannerViewControllerDelegate {
        private let scanned: (String) -> Void
        private var done = false

        init(scanned: @escaping (String) -> Void) {
            self.scanned = scanned
        }

        func dataScanner(_ scanner: DataScannerViewController, didAdd items: [RecognizedItem], allItems: [RecognizedItem]) {
            for case let .barcode(code) in items {
                if let payload = code.payloadStringValue, !done {
                    done = true
                    scanner.stopScanning()
                    scanned(payload)
                }
            }
        }
    }
}
