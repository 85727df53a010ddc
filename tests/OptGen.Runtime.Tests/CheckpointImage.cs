using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace OptGen.Runtime.Tests;

/// <summary>
/// A checkpoint as fields, written and parsed by the test from the format in docs/training.md (independently of the
/// runtime's reader and writer), so that a test can change one field, recompute the CRC-32, and see that the field
/// check (not the checksum) is what rejects it. The <c>…Count</c> overrides write a count that disagrees with the
/// items that follow.
/// </summary>
internal sealed class CheckpointImage
{
    /// <summary>Flag bit 10: a section of every tensor's shape follows the layout (rules with compact state).</summary>
    public const uint ShapesFlag = 1u << 10;

    public byte[] Magic { get; set; } = "OPTGCKPT"u8.ToArray();

    public uint Version { get; set; } = 1;

    public uint Flags { get; set; }

    /// <summary>The declared size; null writes the true size.</summary>
    public long? Size { get; set; }

    public string Name { get; set; } = "";

    public string RuleId { get; set; } = "";

    public long StepCount { get; set; }

    public List<string> Hyperparameters { get; set; } = [];

    public uint? HyperparameterCount { get; set; }

    public List<string> States { get; set; } = [];

    public uint? StateCount { get; set; }

    public List<int[]> Groups { get; set; } = [];

    public uint? GroupCount { get; set; }

    /// <summary>Written tensor counts that disagree with <see cref="Groups"/>, by group.</summary>
    public Dictionary<int, uint> TensorCount { get; } = [];

    /// <summary>Every tensor's shape, in order, written after the layout when <see cref="Flags"/> has bit 10.</summary>
    public List<int[]> Shapes { get; set; } = [];

    /// <summary>Per group, per hyperparameter.</summary>
    public List<double[]> Values { get; set; } = [];

    public uint? HostCount { get; set; }

    /// <summary>Per group, per carried host scalar.</summary>
    public List<double[]> Host { get; set; } = [];

    /// <summary>The state bytes, as stored (float32 or bfloat16, plane by plane, tensor by tensor).</summary>
    public byte[] State { get; set; } = [];

    /// <summary>Whether to append the CRC-32 (false leaves the stream ending after the fields).</summary>
    public bool WithChecksum { get; set; } = true;

    public static CheckpointImage Parse(byte[] bytes)
    {
        var image = new CheckpointImage();
        int at = 0;
        image.Magic = bytes[..8];
        at = 8;
        image.Version = U32();
        image.Flags = U32();
        image.Size = I64();
        image.Name = Text();
        image.RuleId = Text();
        image.StepCount = I64();
        uint n = U32();
        for (int i = 0; i < n; i++)
        {
            image.Hyperparameters.Add(Text());
        }

        n = U32();
        for (int i = 0; i < n; i++)
        {
            image.States.Add(Text());
        }

        n = U32();
        for (int k = 0; k < n; k++)
        {
            var lengths = new int[U32()];
            for (int j = 0; j < lengths.Length; j++)
            {
                lengths[j] = (int)U32();
            }

            image.Groups.Add(lengths);
        }

        if ((image.Flags & ShapesFlag) != 0)
        {
            foreach (int[] group in image.Groups)
            {
                foreach (int _ in group)
                {
                    var shape = new int[U32()];
                    for (int d = 0; d < shape.Length; d++)
                    {
                        shape[d] = (int)U32();
                    }

                    image.Shapes.Add(shape);
                }
            }
        }

        foreach (int[] _ in image.Groups)
        {
            var values = new double[image.Hyperparameters.Count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BitConverter.Int64BitsToDouble(I64());
            }

            image.Values.Add(values);
        }

        uint hosts = U32();
        foreach (int[] _ in image.Groups)
        {
            var values = new double[hosts];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BitConverter.Int64BitsToDouble(I64());
            }

            image.Host.Add(values);
        }

        image.State = bytes[at..^4];
        if (image.Size != bytes.Length || Crc32(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
        {
            throw new InvalidDataException("Not a valid checkpoint.");
        }

        image.Size = null;
        return image;

        uint U32()
        {
            at += 4;
            return BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at - 4));
        }

        long I64()
        {
            at += 8;
            return BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at - 8));
        }

        string Text()
        {
            int length = (int)U32();
            at += length;
            return Encoding.UTF8.GetString(bytes, at - length, length);
        }
    }

    public byte[] ToBytes()
    {
        var body = new MemoryStream();
        body.Write(Magic);
        U32(Version);
        U32(Flags);
        long sizeAt = body.Position;
        I64(0);
        Text(Name);
        Text(RuleId);
        I64(StepCount);
        U32(HyperparameterCount ?? (uint)Hyperparameters.Count);
        Hyperparameters.ForEach(Text);
        U32(StateCount ?? (uint)States.Count);
        States.ForEach(Text);
        U32(GroupCount ?? (uint)Groups.Count);
        for (int k = 0; k < Groups.Count; k++)
        {
            U32(TensorCount.TryGetValue(k, out uint count) ? count : (uint)Groups[k].Length);
            foreach (int length in Groups[k])
            {
                U32((uint)length);
            }
        }

        if ((Flags & ShapesFlag) != 0)
        {
            foreach (int[] shape in Shapes)
            {
                U32((uint)shape.Length);
                Array.ForEach(shape, d => U32((uint)d));
            }
        }

        Values.ForEach(group => Array.ForEach(group, v => I64(BitConverter.DoubleToInt64Bits(v))));
        U32(HostCount ?? (uint)(Host.Count > 0 ? Host[0].Length : 0));
        Host.ForEach(group => Array.ForEach(group, v => I64(BitConverter.DoubleToInt64Bits(v))));
        body.Write(State);

        byte[] bytes = body.ToArray();
        long size = bytes.Length + (WithChecksum ? 4 : 0);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan((int)sizeAt), Size ?? size);
        if (!WithChecksum)
        {
            return bytes;
        }

        byte[] result = new byte[bytes.Length + 4];
        bytes.CopyTo(result, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(bytes.Length), Crc32(bytes));
        return result;

        void U32(uint value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            body.Write(b);
        }

        void I64(long value)
        {
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(b, value);
            body.Write(b);
        }

        void Text(string text)
        {
            byte[] b = Encoding.UTF8.GetBytes(text);
            U32((uint)b.Length);
            body.Write(b);
        }
    }

    /// <summary>Rewrites the CRC-32 of a whole checkpoint in place after its body was changed.</summary>
    public static void Reseal(byte[] bytes) =>
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32(bytes.AsSpan(0, bytes.Length - 4)));

    /// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}

/// <summary>A read-only stream that cannot seek, so the loader cannot know how much data there is.</summary>
internal sealed class ForwardOnlyStream(byte[] bytes) : Stream
{
    private readonly MemoryStream _inner = new(bytes, writable: false);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7)); // short reads, too

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
