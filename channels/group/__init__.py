"""Group chat: one agent serving many customers in a room (channels/group/actions.py), the /group Socket.IO
namespace, the room and join pages, and ``start_group_room`` for leads (sessions.py)."""
