import Foundation

/// Values collected from any thread (what a `@Sendable` callback records).
final class Collected<T>: @unchecked Sendable {
    // @unchecked: `lock` guards `items`.
    private let lock = NSLock()
    private var items: [T] = []

    func append(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
