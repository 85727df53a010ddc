using System;
using System.Buffers;
using System.IO;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// A schedule that runs <paramref name="action"/> the first time it is read (inside a step's guard) and always returns
/// <paramref name="value"/>: a deterministic way to make a call while a step runs. Shared with the GPU tests.
/// </summary>
internal sealed class CallbackSchedule(double value, Action action) : Schedule
{
    private bool _done;

    public override double ValueAt(long step)
    {
        if (!_done)
        {
            _done = true;
            action();
        }

        return value;
    }
}

/// <summary>
/// A stream over <paramref name="inner"/> that runs <paramref name="callback"/> the first time it is read from or
/// written to (inside a checkpoint load or save). Shared with the GPU tests.
/// </summary>
internal sealed class CallbackStream(MemoryStream inner, Action callback) : Stream
{
    private bool _called;

    public override bool CanRead => true;

    public override bool CanSeek => inner.CanSeek;

    public override bool CanWrite => true;

    public override long Length => inner.Length;

    public override long Position { get => inner.Position; set => inner.Position = value; }

    public override int Read(byte[] buffer, int offset, int count)
    {
        Once();
        return inner.Read(buffer, offset, count);
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Once();
        inner.Write(buffer, offset, count);
    }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void SetLength(long value) => inner.SetLength(value);

    public override void Flush() => inner.Flush();

    private void Once()
    {
        if (!_called)
        {
            _called = true;
            callback();
        }
    }
}

/// <summary>
/// A memory over <paramref name="array"/> whose <see cref="Pin"/> first runs <paramref name="callback"/> (once): a
/// deterministic way to act between a step's argument checks and its pinning. Shared with the Distributed tests.
/// </summary>
internal sealed class CallbackMemory(float[] array, Action callback) : MemoryManager<float>
{
    private Action? _callback = callback;

    public override Span<float> GetSpan() => array;

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        Action? run = _callback;
        _callback = null;
        run?.Invoke();
        return array.AsMemory(elementIndex).Pin();
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
