using System.IO;

namespace OptGen.TorchSharp;

/// <summary>
/// The unsigned LEB128 integers TorchSharp's <c>save_state_dict</c> writes for its counts (its own codec is internal).
/// </summary>
internal static class Leb128
{
    /// <summary>Reads a count of at most <paramref name="maximum"/>.</summary>
    /// <exception cref="InvalidDataException">The value is longer than 5 bytes or above <paramref name="maximum"/>.</exception>
    public static int ReadCount(BinaryReader reader, string field, int maximum)
    {
        long value = 0;
        for (int i = 0; ; i++)
        {
            if (i == 5)
            {
                throw new InvalidDataException($"The {field} count is not a valid LEB128 integer.");
            }

            byte b = reader.ReadByte();
            value |= (long)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        return value <= maximum ? (int)value : throw new InvalidDataException($"The {field} count {value} is above {maximum}.");
    }
}
